# Runs `berks` commands for many Chef servers, loading Berkshelf once: pipeline/upload_cookbooks.py
# starts it and sends it jobs; each runs in a child forked from this process, so Berkshelf and Chef
# (about a second of CPU to require) start once per build instead of once per server.
#
# A job is one JSON line on stdin: {"id", "argv", "env", "dir", "output"}. Its child takes exactly
# that environment and working directory, writes its output to that file and runs what Berkshelf's
# bin/berks runs: Berkshelf::Cli::Runner.new(argv).execute!. When it ends, one JSON line
# {"id", "status"} goes to stdout. Jobs run side by side; the caller decides how many at a time.
# On SIGTERM (CodeBuild stopping the build) the children are stopped too.
#
# Forking after the require carries no configuration from one upload into another: Berkshelf reads
# its configuration when a command first needs it, then keeps it for the process (Berkshelf 8,
# github.com/berkshelf/berkshelf lib/berkshelf.rb: `chef_config` is
# `@chef_config ||= ChefConfigCompat.new(ENV["BERKSHELF_CHEF_CONFIG"])`, which loads knife.rb with
# ChefConfig::WorkstationConfigLoader, searching from ENV["PWD"]; `berkshelf_path` reads
# ENV["BERKSHELF_PATH"] the same way; lib/berkshelf/config.rb `Config.instance` and
# lib/berkshelf/cookbook_store.rb `CookbookStore.instance` are memoized on first use). This process
# runs no command, so each child reads its own server's. The one thing requiring Berkshelf does
# with the environment, `fix_proxies` (lib/berkshelf.rb), each child does again with its own.
require "json"
begin
  require "bundler/setup"
  require "berkshelf/cli"
rescue StandardError, LoadError => e
  abort("#{File.basename(__FILE__)}: Berkshelf cannot be loaded with the Gemfile's gems " \
        "(BUNDLE_GEMFILE=#{ENV["BUNDLE_GEMFILE"]}): #{e.message}")
end

$stdout.sync = true
reports = Mutex.new
children = {}

Signal.trap("TERM") do
  children.keys.each do |pid|
    Process.kill("TERM", pid)
  rescue Errno::ESRCH
    nil # it has just ended
  end
  exit!(143)
end

waiters = $stdin.each_line.map do |line|
  job = JSON.parse(line)
  pid = fork do
    Signal.trap("TERM", "DEFAULT")
    ENV.replace(job.fetch("env"))
    # What requiring Berkshelf did to the environment, done again to this one: lib/berkshelf.rb
    # copies HTTP(S)_PROXY to the lower-case names, the only ones Chef reads.
    Berkshelf.fix_proxies if Berkshelf.respond_to?(:fix_proxies)
    Dir.chdir(job.fetch("dir"))
    $stdin.reopen(File::NULL)
    output = File.open(job.fetch("output"), "w")
    $stdout.reopen(output)
    $stderr.reopen(output)
    Berkshelf::Cli::Runner.new(job.fetch("argv")).execute!
  end
  children[pid] = job.fetch("id")
  Thread.new do
    _, status = Process.wait2(pid)
    code = status.exitstatus || 128 + status.termsig
    reports.synchronize { puts JSON.generate("id" => children.delete(pid), "status" => code) }
  end
end
waiters.each(&:join)
