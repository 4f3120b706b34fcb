"""MUSHRA listening tests (ITU-R BS.1534-3): design, stimuli, participant flow, screening, statistics.

One module per job: ``spec`` / ``spec_yaml`` (the test as written), ``sources`` (item audio),
``stimuli`` (made on the server, with checks), ``design`` (stored in SQL), ``assignment``
(fewest ratings first), ``flow`` (a participant's stages), ``submission`` (play events and
ratings, checked), ``serving`` (stimulus audio by token), ``ratings`` (the rating table and
progress), ``screening``, ``statistics`` and ``report``. Tables are in
:mod:`codecbench.storage.listening_tables`.
"""
