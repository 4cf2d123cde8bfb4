"""What auditors run: rebuild the projections from the event history (`replay`), compare two
databases (`compare`), export the history (`export`) and trace a figure to its events
(`trace`). docs/audit.md says what each proves."""
