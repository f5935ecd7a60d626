# A stand-in for Berkshelf 8's `berkshelf/cli` that loads its Chef configuration the way Berkshelf
# does, with Debian's ruby-chef-config, then plays the Chef servers' part.
#
# Shaped like the real gem, Berkshelf 8.0.7 (github.com/berkshelf/berkshelf @ 602dd4b):
# - bin/berks: `require "berkshelf/cli"` then `Berkshelf::Cli::Runner.new(ARGV.dup).execute!`
#   (../../bin/berks is that file); lib/berkshelf/cli.rb `Runner`: initialize(argv, stdin, stdout,
#   stderr, kernel), execute! ends with kernel.exit(0), a BerkshelfError with its status_code (its
#   message on stderr), any other error with 47 (lib/berkshelf/errors.rb: LockfileNotFound is 140);
# - requiring it costs the start-up (lib/berkshelf.rb requires chef's libraries and Berkshelf's
#   own), played by BERKS_STARTUP_SECONDS of CPU here; and it reads no configuration: lib/berkshelf.rb
#   `chef_config` is `@chef_config ||= ChefConfigCompat.new(ENV["BERKSHELF_CHEF_CONFIG"])`, first
#   evaluated by a command, then kept for the process, as `berkshelf_path` (ENV["BERKSHELF_PATH"])
#   is; lib/berkshelf/chef_config_compat.rb: ChefConfig::WorkstationConfigLoader.new(path).load;
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
# it accepts}. BERKS_LOG gets one JSON line per command run; BERKS_UPLOAD_SECONDS stand for an
# upload's network time; BERKS_FAIL_FOR names a server that is unreachable.
require "chef-config/config"
require "chef-config/workstation_config_loader"
require "digest"
require "json"

startup = ENV.fetch("BERKS_STARTUP_SECONDS", "0").to_f
cpu_started = Process.clock_gettime(Process::CLOCK_PROCESS_CPUTIME_ID)
nil while Process.clock_gettime(Process::CLOCK_PROCESS_CPUTIME_ID) - cpu_started < startup

module Berkshelf
  class BerkshelfError < StandardError
    def status_code
      1
    end
  end

  class LockfileNotFound < BerkshelfError
    def status_code
      140
    end

    def to_s
      "Lockfile not found! Run `berks install` to create the lockfile."
    end
  end

  # lib/berkshelf.rb, run when it is required: Chef reads only the lower-case names
  # (chef-config's ChefConfig::Config.proxy_uri reads ENV["https_proxy"]).
  def self.fix_proxies
    ENV["http_proxy"] = ENV["HTTP_PROXY"] if ENV["HTTP_PROXY"] && !ENV["http_proxy"]
    ENV["https_proxy"] = ENV["HTTPS_PROXY"] if ENV["HTTPS_PROXY"] && !ENV["https_proxy"]
    ENV["ftp_proxy"] = ENV["FTP_PROXY"] if ENV["FTP_PROXY"] && !ENV["ftp_proxy"]
    ENV["no_proxy"] = ENV["NO_PROXY"] if ENV["NO_PROXY"] && !ENV["no_proxy"]
  end

  fix_proxies

  class << self
    # Read when a command first needs it, then kept for the process, as Berkshelf's is.
    def chef_config
      @chef_config ||= begin
        ChefConfig::WorkstationConfigLoader.new(ENV["BERKSHELF_CHEF_CONFIG"]).load
        ChefConfig::Config
      end
    end
  end

  class Cli
    class Runner
      def initialize(argv, stdin = STDIN, stdout = STDOUT, stderr = STDERR, kernel = Kernel)
        @argv, @stdin, @stdout, @stderr, @kernel = argv, stdin, stdout, stderr, kernel
      end

      def execute!
        $stdin = @stdin
        $stdout = @stdout
        $stderr = @stderr

        Command.new(@argv).run
        @kernel.exit(0)
      rescue Berkshelf::BerkshelfError => e
        @stderr.puts(e.message)
        @kernel.exit(e.status_code)
      rescue => e
        @stderr.puts("#{e.class} #{e}")
        @kernel.exit(47)
      end
    end

    # One command, recorded in BERKS_LOG whether it succeeds or not.
    class Command
      def initialize(argv)
        @argv = argv
        @record = { "argv" => argv, "cwd" => Dir.pwd, "pwd_env" => ENV["PWD"], "pid" => Process.pid,
                    "chef_server" => ENV["CHEF_SERVER"], "berkshelf_path" => ENV["BERKSHELF_PATH"],
                    "ssl_cert_file" => ENV["SSL_CERT_FILE"], "https_proxy" => ENV["https_proxy"],
                    "started" => Time.now.to_f }
      end

      def run
        config = load_config
        berksfile = @argv.each_cons(2).find { |flag, _| flag == "--berksfile" }&.last
        lockfile = File.join(File.dirname(berksfile || File.join(Dir.pwd, "Berksfile")),
                             "Berksfile.lock")
        case @argv.first
        when "install" then File.write(lockfile, "DEPENDENCIES\n  example\n")
        when "upload" then upload(config, lockfile)
        else raise BerkshelfError, "berks stand-in: no command #{@argv.first.inspect}"
        end
        log(nil)
        puts "berks #{@argv.first}: done for #{config[:chef_server_url]}"
      rescue StandardError => e
        log(e.is_a?(BerkshelfError) ? e.message : "#{e.class} #{e}")
        raise
      end

      private

      def load_config
        config = Berkshelf.chef_config
        @record.update("config_file" => config[:config_file], "key" => config[:client_key].to_s,
                       "chef_server_url" => config[:chef_server_url],
                       "node_name" => config[:node_name])
        bundle = ENV["SSL_CERT_FILE"].to_s
        @record["ca_bundle"] = File.file?(bundle) ? File.read(bundle) : ""
        config
      end

      def upload(config, lockfile)
        raise LockfileNotFound unless File.file?(lockfile)
        key = @record["key"]
        raise BerkshelfError, "I cannot read #{key}, which you told me to use to sign requests!" unless File.file?(key)
        @record["key_mode"] = format("0o%o", File.stat(key).mode & 0o777)
        @record["key_sha256"] = Digest::SHA256.file(key).hexdigest
        accepted = JSON.parse(File.read(ENV.fetch("BERKS_SERVERS")))
        url = config[:chef_server_url]
        sleep(ENV.fetch("BERKS_UPLOAD_SECONDS", "0").to_f)
        raise BerkshelfError, "Ridley::Errors::ConnectionFailed: no Chef server at #{url}" unless accepted.key?(url)
        raise BerkshelfError, "Ridley::Errors::ConnectionFailed: #{url} is unreachable" if ENV["CHEF_SERVER"] == ENV["BERKS_FAIL_FOR"]
        raise BerkshelfError, "401 Unauthorized: #{url} does not accept the key #{key}" if accepted[url] != @record["key_sha256"]
      end

      def log(failure)
        @record["failure"] = failure
        @record["ended"] = Time.now.to_f
        # One write(2) per record, appended: parallel commands' records never interleave.
        File.open(ENV.fetch("BERKS_LOG"), "a") { |file| file.syswrite("#{JSON.generate(@record)}\n") }
      end
    end
  end
end
