-- The request of `CASE=waf bash bench/compare.sh`: a typical API call, a POST of the JSON body in
-- bench/waf-request.json (read once), with the headers a browser-based client sends.
local f = assert(io.open("bench/waf-request.json", "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/plain, */*"
wrk.headers["Accept-Language"] = "en-GB,en;q=0.9"
wrk.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"
wrk.headers["Authorization"] = "Bearer eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiI0MiIsInNjb3BlIjoicGV0cy9yZWFkIn0.c2lnbmF0dXJlLWJ5dGVz"
wrk.headers["Cookie"] = "session=9f8e7d6c5b4a39281706f5e4d3c2b1a0; theme=dark; consent=1"
wrk.headers["Referer"] = "https://shop.example.com/cart?step=2"
