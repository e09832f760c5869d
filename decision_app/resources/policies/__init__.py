"""The ``/decision/policies`` resources: policy versions, their shadow runs and publication."""
