"""DICOM networking: a receiver (C-ECHO/C-STORE SCP) into a local store, query/retrieve
(C-FIND, C-MOVE, C-GET) from a PACS and sending (C-STORE SCU), all through pynetdicom.

``peers`` holds the configuration (our AE title, the peers allowed to talk to us, TLS),
``store`` the organised local store with its index, ``audit`` the association log.
"""
