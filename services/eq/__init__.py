"""Auto-EQ: the one 3-band EQ definition (`filters`), the EQ-prediction CNN (`model`), its
checkpoints and the whole-stem recommendation (`predict.predict_eq`)."""
