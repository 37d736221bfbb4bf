"""Presentation shared by the faces: glossary markdown read into blocks and spans (mdtext.py) and where a
line may break (linebreak.py). Used by the terminal (cli/render.py) and by a page in a browser; the
engine never imports it. Standard library only."""
