# Verifies Chef request signatures with Chef's own code, for the Chef server double
# (rehearsal/chef_server.py), in one long-running process.
#
# Says {"ready": VERSION} once loaded, then reads one JSON request a line on stdin: {"method", "path", "headers": {name: value},
# "body": base64, "public_key": PEM, "skew": seconds}; writes one JSON line on stdout:
# {"ok": true} or {"ok": false, "error": "..."}.
#
# The verification is Mixlib::Authentication::SignatureVerification#authenticate_request, the way
# Chef Infra Server's Ruby predecessors and chef-zero authenticate (github.com/chef/
# mixlib-authentication, lib/mixlib/authentication/signatureverification.rb): it reads the
# headers from a Rack-style env (HTTP_X_OPS_SIGN ...), the method, path and raw body.
require 'base64'
require 'json'
require 'openssl'
require 'mixlib/authentication/signatureverification'
require 'mixlib/authentication/version'

# The request object SignatureVerification reads: env, method, path, raw_post, params.
Request = Struct.new(:env, :method, :path, :raw_post, :params)

$stdout.sync = true
$stdout.puts(JSON.generate('ready' => Mixlib::Authentication::VERSION))
keys = {}
$stdin.each_line do |line|
  answer =
    begin
      message = JSON.parse(line)
      env = message.fetch('headers').to_h { |name, value| ["HTTP_#{name.upcase.tr('-', '_')}", value] }
      request = Request.new(env, message.fetch('method'), message.fetch('path'),
                            Base64.strict_decode64(message.fetch('body')), {})
      pem = message.fetch('public_key')
      key = (keys[pem] ||= OpenSSL::PKey::RSA.new(pem))
      verifier = Mixlib::Authentication::SignatureVerification.new(request)
      result = verifier.authenticate_request(key, message.fetch('skew'))
      if result
        { 'ok' => true }
      else
        failed = { 'signature' => verifier.valid_signature?, 'timestamp' => verifier.valid_timestamp?,
                   'content hash' => verifier.valid_content_hash? }.reject { |_, valid| valid }.keys
        { 'ok' => false, 'error' => "invalid #{failed.join(', ')}" }
      end
    rescue StandardError => e
      { 'ok' => false, 'error' => "#{e.class}: #{e.message}" }
    end
  $stdout.puts(JSON.generate(answer))
end
