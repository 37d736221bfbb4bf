"""Presentation shared by the faces: glossary markdown read into blocks and spans (mdtext.py) and where a
line may break (linebreak.py), both standard library only; a message for stderr laid out as rich Text
(messages.py). Used by the terminal (cli/render.py, cli/console.py), by the server laying out a thin
client's output, and by a page in a browser; the engine never imports it."""
