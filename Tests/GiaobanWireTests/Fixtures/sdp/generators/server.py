# Serves offer.html from this folder on 127.0.0.1:<port> and writes each POSTed SDP
# to <outdir>/<mode>.txt. Usage: python3 server.py 8765 /tmp/sdp-out
import http.server, os, sys

class Handler(http.server.SimpleHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
        name = self.path.rsplit('/', 1)[-1]
        with open(os.path.join(sys.argv[2], name + '.txt'), 'wb') as f:
            f.write(body)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass

os.chdir(os.path.dirname(os.path.abspath(__file__)))
http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), Handler).serve_forever()
