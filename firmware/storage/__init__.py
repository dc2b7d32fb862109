"""Storage that survives power loss at any byte, on littlefs and on a host filesystem.

``journal``: append-only records (session log, OCPP transaction queue); ``kv``: small
JSON documents saved atomically (configuration keys, local authorization list);
``fs``: path helpers for both runtimes. Import the submodule you need.
"""
