"""Compute: the numerical work the stages call — feature extraction (pooled and dense, one
iterator), the noise schedules, the samplers, training, and the device and thread settings."""
