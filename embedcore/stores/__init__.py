"""Where things are kept: the vector cache, document collections, the shared PostgreSQL database,
the choice between local SQLite files and that database, and the copy from one to the other."""
