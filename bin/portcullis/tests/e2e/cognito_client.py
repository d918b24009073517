"""One call of AWS's own Cognito client (boto3) against a Portcullis user pool.

    python3 cognito_client.py ENDPOINT CA_FILE OPERATION 'JSON PARAMETERS'

prints the answer as JSON, or {"error": CODE, "message": TEXT} for a service error. Requests are
unsigned, as Cognito's public operations (SignUp, InitiateAuth, ...) allow.
"""

import json
import sys

import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint, ca_file, operation, params = sys.argv[1:5]
client = boto3.client(
    "cognito-idp",
    region_name="us-east-1",
    endpoint_url=endpoint,
    verify=ca_file,
    config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}),
)
method = "".join("_" + c.lower() if c.isupper() else c for c in operation).lstrip("_")
try:
    answer = getattr(client, method)(**json.loads(params))
    answer.pop("ResponseMetadata", None)
    print(json.dumps(answer, default=str))
except ClientError as e:
    print(json.dumps({"error": e.response["Error"]["Code"], "message": e.response["Error"]["Message"]}))
