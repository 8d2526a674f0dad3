"""Plotly figures and display tables: arrays and texts in, figures and DataFrames out (no Streamlit)."""
