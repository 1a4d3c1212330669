"""Output stage: render plans, inventories and run events for people and tools."""
