"""The stream processor: change events in, a Harbor that converges to what Hopsworks says, out."""
