"""The .dig front end: YAML with !include and locations, compiled into the workflow model."""
