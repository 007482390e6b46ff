"""The model floor, shared by training and serving: the fusion ranker and its behaviour encoder,
how feature columns become its inputs, loading and scoring (torch or folded numpy), the model
registry, the text encoder and the comment probe."""
