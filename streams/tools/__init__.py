"""Operator tools around the pipeline: a Hopsworks-like workload (`simulate`), a comparison of
Harbor with the database (`verify`) and a status report (`status`)."""
