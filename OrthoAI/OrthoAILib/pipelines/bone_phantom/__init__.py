"""Tiny bone segmentation of a CT phantom: the worked 3-D example of the pipeline contract
(sliding window -> labelmap -> segmentation) and the model runtime's self-check."""
