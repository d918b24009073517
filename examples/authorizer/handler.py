"""A Lambda TOKEN authorizer, written exactly as one writes it for Amazon API Gateway.

This is plain AWS Lambda code: nothing in it knows about Portcullis, and it deploys to
Lambda as it is. Portcullis calls it through lambda_http.py, which serves any Lambda handler
over HTTP.

Tokens (the Authorization header):
  Bearer allow-<user>  allowed to GET /pets and GET /pets/...; anything else is implicitly denied
  Bearer deny-<user>   explicitly denied everything in the stage
  anything else        Unauthorized (401)
"""


def lambda_handler(event, context):
    scheme, _, credential = event['authorizationToken'].partition(' ')
    verdict, _, user = credential.partition('-')
    if scheme != 'Bearer' or verdict not in ('allow', 'deny') or not user:
        # The exact text API Gateway turns into 401 {"message":"Unauthorized"}.
        raise Exception('Unauthorized')

    # methodArn: arn:aws:execute-api:REGION:ACCOUNT:API_ID/STAGE/METHOD/PATH
    api_arn, stage = event['methodArn'].split('/')[:2]

    if verdict == 'deny':
        return policy(user, 'Deny', f'{api_arn}/{stage}/*/*')

    # Only reads of /pets and what is under it. The gateway may cache this policy for
    # the token and check it again for every request, so DELETE /pets/7 is denied even
    # when GET /pets was allowed first.
    return policy(user, 'Allow', f'{api_arn}/{stage}/GET/pets*',
                  context={'user': user, 'tier': 'gold', 'admin': False})


def policy(user, effect, resource, context=None):
    answer = {
        'principalId': f'user|{user}',
        'policyDocument': {
            'Version': '2012-10-17',
            'Statement': [{
                'Action': 'execute-api:Invoke',
                'Effect': effect,
                'Resource': resource,
            }],
        },
    }
    if context:
        answer['context'] = context
    return answer
