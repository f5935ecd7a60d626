# A stand-in for `berks` (Berkshelf 8) that loads its Chef configuration the way Berkshelf does,
# with Debian's ruby-chef-config, then plays the Chef servers' part.
#
# Modelled on Berkshelf 8.0.7 (github.com/berkshelf/berkshelf @ 602dd4b):
# - lib/berkshelf.rb `Berkshelf.chef_config`: ChefConfigCompat.new(ENV["BERKSHELF_CHEF_CONFIG"]);
# - lib/berkshelf/chef_config_compat.rb: ChefConfig::WorkstationConfigLoader.new(path).load;
# - lib/berkshelf/config.rb: the chef.* settings (chef_server_url, client_key, node_name) default
#   to that configuration, which almost every command reads, `berks install` included;
# - lib/berkshelf/berksfile.rb `upload`: validate_lockfile_present! before any upload.
# and on chef-config (github.com/chef/chef, chef-config/lib/chef-config/workstation_config_loader.rb):
# without an explicit path it tries $KNIFE_HOME, then Dir.pwd/{config,knife}.rb, then .chef/
# upwards from ENV["PWD"] (Dir.pwd only when PWD is unset), then ~/.chef. Chef signs every request
# with client_key (chef/http/authenticator.rb raises PrivateKeyMissing when it cannot read it); a
# server answers 401 to a key that is not its client's.
#
# The rehearsed Chef servers are BERKS_SERVERS, a JSON file {chef_server_url: sha256 of the key
# it accepts}. BERKS_LOG gets one JSON line per call; BERKS_STARTUP_SECONDS of CPU stand for
# Berkshelf's own start-up (requiring berkshelf and chef), BERKS_UPLOAD_SECONDS for an upload's
# network time; BERKS_FAIL_FOR names a server that is unreachable.
require "chef-config/config"
require "chef-config/workstation_config_loader"
require "digest"
require "json"

started = Time.now.to_f
startup = ENV.fetch("BERKS_STARTUP_SECONDS", "0").to_f
cpu_started = Process.clock_gettime(Process::CLOCK_PROCESS_CPUTIME_ID)
nil while Process.clock_gettime(Process::CLOCK_PROCESS_CPUTIME_ID) - cpu_started < startup

record = { "argv" => ARGV, "cwd" => Dir.pwd, "pwd_env" => ENV["PWD"],
           "chef_server" => ENV["CHEF_SERVER"], "berkshelf_path" => ENV["BERKSHELF_PATH"],
           "ssl_cert_file" => ENV["SSL_CERT_FILE"], "started" => started }
log = lambda do |failure|
  record["failure"] = failure
  record["ended"] = Time.now.to_f
  # One write(2) per record, appended: parallel uploads' records never interleave.
  File.open(ENV.fetch("BERKS_LOG"), "a") { |file| file.syswrite("#{JSON.generate(record)}\n") }
  abort(failure) if failure
end

begin
  ChefConfig::WorkstationConfigLoader.new(ENV["BERKSHELF_CHEF_CONFIG"]).load
rescue ChefConfig::ConfigurationError => e
  log.call(e.message)
end
config = ChefConfig::Config
key = config[:client_key].to_s
record.update("config_file" => config[:config_file], "chef_server_url" => config[:chef_server_url],
              "node_name" => config[:node_name], "key" => key)
bundle = ENV["SSL_CERT_FILE"].to_s
record["ca_bundle"] = File.file?(bundle) ? File.read(bundle) : ""

berksfile = ARGV.each_cons(2).find { |flag, _| flag == "--berksfile" }&.last || File.join(Dir.pwd, "Berksfile")
lockfile = File.join(File.dirname(berksfile), "Berksfile.lock")
case ARGV.first
when "install"
  File.write(lockfile, "DEPENDENCIES\n  example\n")
when "upload"
  log.call("Lockfile not found! Run `berks install` to create the lockfile.") unless File.file?(lockfile)
  unless File.file?(key)
    log.call("I cannot read #{key}, which you told me to use to sign requests!")
  end
  record["key_mode"] = format("0o%o", File.stat(key).mode & 0o777)
  record["key_sha256"] = Digest::SHA256.file(key).hexdigest
  accepted = JSON.parse(File.read(ENV.fetch("BERKS_SERVERS")))
  url = config[:chef_server_url]
  sleep(ENV.fetch("BERKS_UPLOAD_SECONDS", "0").to_f)
  log.call("Ridley::Errors::ConnectionFailed: no Chef server at #{url}") unless accepted.key?(url)
  log.call("Ridley::Errors::ConnectionFailed: #{url} is unreachable") if ENV["CHEF_SERVER"] == ENV["BERKS_FAIL_FOR"]
  log.call("401 Unauthorized: #{url} does not accept the key #{key}") if accepted[url] != record["key_sha256"]
else
  log.call("berks stand-in: no command #{ARGV.first.inspect}")
end
log.call(nil)
puts "berks #{ARGV.first}: done for #{config[:chef_server_url]}"
