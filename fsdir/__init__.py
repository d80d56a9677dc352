"""fsdir: the FreeSWITCH directory kept in a database, served live to FreeSWITCH."""

__version__ = "0.1.0"
