"""DNN layer profiles shipped with coopt (CSV files, see README.md in this folder)."""
