"""The DBOS clients the conformance tier runs against Baton: one executor application per client,
each started by the harness (``tests/dbos_app/harness.py``) and driven the same way.

Owns: what a client is (``client``), the clients under test (``catalog``) and their applications
(``tests/dbos_app/executor_app.py`` for Python, also through ``connectors/python`` on dbos 3.3 and
3.4, ``typescript/`` for TypeScript, also through ``connectors/typescript`` on 5.3 with the
install of ``typescript-connector/``). Imports nothing from Baton and nothing from pytest: bench
scripts use it too. ``python -m tests.clients [LABEL...]`` prepares clients (``make client-deps``
runs it for all).

Every client application keeps the same contract, so a test does not care which one it drives.

Environment (read once at start): ``BATON_TEST_APP_NAME``, ``BATON_TEST_SYSTEM_DB_URL``,
``BATON_TEST_MARKER_DIR`` (required); ``BATON_TEST_CONDUCTOR_URL``, ``BATON_TEST_CONDUCTOR_KEY``,
``BATON_TEST_APP_VERSION``, ``BATON_TEST_CONTROL_PORT`` (0: a free port), ``BATON_TEST_LOG_LEVEL``.

stdout: one line ``READY <executor_id> <control_port>`` once DBOS launched and the control server
listens on 127.0.0.1; logs go to stderr. SIGTERM stops promptly, SIGKILL is a crash.

Workflows: ``multi_step(n, step_seconds)`` (step ``k`` is DBOS function id
``client.function_id_of_step(k)``: it appends ``"<workflow_id> <k> <executor_id>"`` to
``<marker_dir>/<workflow_id>.steps``, fsynced, then sleeps), ``quick(x)`` (returns ``x * 2``),
``failing(message)`` (one step, then an error carrying ``message``), ``parent(n, step_seconds)``
(runs ``multi_step`` as the child workflow ``<workflow_id>-child``, returns ``"parent of
<its result>"``); the queue ``serial`` runs one workflow at a time across the app.

Control endpoints (JSON answers; an endpoint a client does not implement answers 501):

==========================================  ======  ==========
endpoint                                    Python  TypeScript
==========================================  ======  ==========
``GET /executor``                           yes     yes
``POST /start?workflow=&id=&[queue=]&...``  yes     yes
``POST /start_many?workflow=&prefix=&...``  yes     501
``GET /status?id=``                         yes     yes
``POST /cancel?id=``                        yes     yes
``GET /forks?id=``                          yes     yes
``POST /send?id=&message=[&topic=]``        yes     yes
``GET /events?id=``                         yes     501
``GET /schedules``                          yes     501
==========================================  ======  ==========

Python has also the workflows ``big`` and ``chatty`` (see ``executor_app.py``); Python and
TypeScript store the schedule ``yearly-tick`` (yearly, so it never fires unless triggered).
"""
