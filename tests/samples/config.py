"""Settings shared by the tests: the least environment that loads."""

MINIMAL = {
    "HREC_KEYCLOAK_BASE_URL": "https://kc.example.com",
    "HREC_API_BASE_URL": "https://api.example.com",
    "HREC_TENANT": "demo",
    "HREC_USERNAME": "user",
    "HREC_PASSWORD": "pw",
    "HREC_SUPERVISOR_EMAIL": "boss@example.com",
    "HREC_BASE_LANGUAGE": "English",
}
