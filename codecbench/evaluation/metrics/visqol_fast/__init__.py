"""codecbench's own ViSQOL: visqol-python 3.8's numbers at engine speed (see :mod:`.engine`)."""
