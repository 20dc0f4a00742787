"""MSAL Python driven by crates/entra-emulator/tests/msal_python.rs.

Usage: python msal_flows.py FLOW '{"json": "arguments"}'

Each flow prints JSON lines on stdout; the last line is the outcome. The
emulator's CA is trusted through REQUESTS_CA_BUNDLE, set by the caller.
Nothing here knows it talks to an emulator: these are the calls an
application makes against Entra ID.
"""

import json
import logging
import os
import sys
import time
import urllib.parse

import msal
import requests


def emit(obj):
    print(json.dumps(obj), flush=True)


def app_kwargs(args):
    kwargs = {"authority": args["authority"]}
    if args.get("instance_discovery_url"):
        kwargs["instance_discovery"] = args["instance_discovery_url"]
    else:
        kwargs["instance_discovery"] = False
    return kwargs


def confidential(args, credential=None):
    return msal.ConfidentialClientApplication(
        args["client_id"],
        client_credential=credential if credential is not None else args["client_secret"],
        **app_kwargs(args),
    )


def follow_authorize(auth_uri, redirect_uri):
    """GETs the authorize URL like a browser that is already signed in
    (the emulator signs in the login_hint user), following redirects inside
    the emulator until one leaves for the app's redirect URI. Returns the
    redirect's query (or fragment) parameters."""
    url = auth_uri
    session = requests.Session()
    for _ in range(10):
        response = session.get(url, allow_redirects=False, timeout=20)
        location = response.headers.get("Location")
        if response.status_code not in (301, 302, 303, 307, 308) or not location:
            raise RuntimeError(
                "authorize answered %s without a redirect: %s"
                % (response.status_code, response.text[:2000])
            )
        location = urllib.parse.urljoin(url, location)
        if location.startswith(redirect_uri):
            parsed = urllib.parse.urlsplit(location)
            params = urllib.parse.parse_qs(parsed.query or parsed.fragment)
            return {k: v[0] for k, v in params.items()}, location
        url = location
    raise RuntimeError("too many redirects from authorize")


def summary(result):
    """The parts of an MSAL result a test asserts on (tokens included: the
    test validates them)."""
    out = dict(result)
    out.pop("id_token_claims", None)
    if "id_token_claims" in result:
        out["id_token_claims"] = result["id_token_claims"]
    return out


def flow_client_credentials(args):
    app = confidential(args)
    first = app.acquire_token_for_client(scopes=args["scopes"])
    second = app.acquire_token_for_client(scopes=args["scopes"])
    emit({"first": summary(first), "second_source": second.get("token_source"),
          "second_same": first.get("access_token") == second.get("access_token")})


def flow_client_certificate(args):
    credential = {"private_key": args["private_key"]}
    if args.get("thumbprint"):
        credential["thumbprint"] = args["thumbprint"]
    if args.get("public_certificate"):
        credential["public_certificate"] = args["public_certificate"]
    app = confidential(args, credential)
    emit({"first": summary(app.acquire_token_for_client(scopes=args["scopes"]))})


def auth_code(app, args):
    flow = app.initiate_auth_code_flow(
        args["scopes"],
        redirect_uri=args["redirect_uri"],
        login_hint=args.get("login_hint"),
    )
    if "auth_uri" not in flow:
        raise RuntimeError("initiate_auth_code_flow failed: %s" % flow)
    response, location = follow_authorize(flow["auth_uri"], args["redirect_uri"])
    result = app.acquire_token_by_auth_code_flow(flow, response)
    return flow, location, result


def flow_auth_code(args):
    app = confidential(args)
    flow, location, result = auth_code(app, args)
    out = {
        "auth_uri": flow["auth_uri"],
        "redirect": location,
        "code_result": summary(result),
    }
    accounts = app.get_accounts()
    out["accounts"] = accounts
    if accounts:
        silent = app.acquire_token_silent(args["scopes"], account=accounts[0])
        out["silent_source"] = (silent or {}).get("token_source")
        out["silent_same"] = (silent or {}).get("access_token") == result.get("access_token")
        refreshed = app.acquire_token_silent(
            args["scopes"], account=accounts[0], force_refresh=True)
        out["refreshed"] = summary(refreshed) if refreshed else None
    emit(out)


def flow_device(args):
    app = msal.PublicClientApplication(args["client_id"], **app_kwargs(args))
    flow = app.initiate_device_flow(scopes=args["scopes"])
    emit({"device_flow": flow})
    if "user_code" not in flow:
        emit({"error": "initiate_device_flow failed", "flow": flow})
        return
    # Polls until the user approves on the verification page (driven by the
    # test); gives up well before the test kills this process.
    flow["expires_at"] = min(flow.get("expires_at", 0), time.time() + 50)
    result = app.acquire_token_by_device_flow(flow)
    out = {"result": summary(result), "accounts": app.get_accounts()}
    emit(out)


def flow_on_behalf_of(args):
    # 1. A user signs in to the web client, which asks for the middle tier's scope.
    web = confidential(args["web"])
    _, _, user = auth_code(web, args["web"])
    if "access_token" not in user:
        emit({"user": summary(user)})
        return
    # 2. The middle tier exchanges the user's token for one to the downstream API.
    middle = confidential(args["middle"])
    result = middle.acquire_token_on_behalf_of(user["access_token"], args["middle"]["scopes"])
    again = middle.acquire_token_on_behalf_of(user["access_token"], args["middle"]["scopes"])
    emit({"user": summary(user), "obo": summary(result),
          "obo_again_ok": "access_token" in again,
          "obo_again_source": again.get("token_source")})


FLOWS = {
    "client_credentials": flow_client_credentials,
    "client_certificate": flow_client_certificate,
    "auth_code": flow_auth_code,
    "device": flow_device,
    "on_behalf_of": flow_on_behalf_of,
}


def main():
    if os.environ.get("MSAL_DEBUG"):
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
    flow, args = sys.argv[1], json.loads(sys.argv[2])
    sys.stderr.write("msal %s, flow %s\n" % (msal.__version__, flow))
    try:
        FLOWS[flow](args)
    except Exception as e:  # reported to the test, which shows the emulator's log
        emit({"exception": "%s: %s" % (type(e).__name__, e)})
        raise


if __name__ == "__main__":
    main()
