"""Twinsight's desktop application (PyQt6 + VTK). Importing this package loads no Qt."""
