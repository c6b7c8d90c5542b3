"""The live wallboard's web app (docs/wallboard.md): ``omnicx wallboard``."""
