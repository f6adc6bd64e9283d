"""Configuration: Hydra composes ``conf/``, pydantic validates the result."""
