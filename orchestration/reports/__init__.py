"""Executive KPI reports: the model, its assembly from the warehouse, and its rendering."""
