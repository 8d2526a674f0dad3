"""Where vectors come from: the OpenAI-compatible client, its endpoints and rate limit, the model
catalogue, the bundled local models, the one embedding path (cache, batches, budget) and the
registry that makes a provider by kind."""
