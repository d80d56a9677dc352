"""Everything FreeSWITCH sees or says: mod_xml_curl, directory XML, the Event Socket."""
