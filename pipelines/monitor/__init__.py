"""`leadscore monitor`: past scores checked against the conversions and sales feedback since."""
