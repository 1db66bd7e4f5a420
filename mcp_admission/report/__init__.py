"""What `check` and `audit` report, one layer below both: a Result located in a file or at an apiserver
path, the Report of a run, its formats (reporters/), where its lines go (output), and the notices about
ToolHive's operator both commands give (operator)."""
