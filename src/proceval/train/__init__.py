"""Training models on procedurally generated data (Stream of Search first): model presets and tokenizers.
No training loop yet."""
