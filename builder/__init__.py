"""The builder: turns a folder of Markdown essays with Python cells into a static site."""
