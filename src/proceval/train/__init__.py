"""Training models on procedurally generated data (Stream of Search first): model presets and tokenizers.
The loop every trainer uses is proceval.train.fit."""
