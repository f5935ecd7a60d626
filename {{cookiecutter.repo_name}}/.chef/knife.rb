# knife and Berkshelf settings for every Chef server of this repository (the file Chef now calls
# config.rb; Berkshelf still looks for .chef/knife.rb first).
#
# Pick the server with CHEF_SERVER:   CHEF_SERVER=chef-east knife node list
# Each server is one directory, .chef/<server>/, holding its config.yml (committed) and the key
# private.pem of its Chef user (never committed: the pipeline copies it from the key bucket).
require 'yaml'

chef_dir = File.expand_path(__dir__)
servers = Dir.glob(File.join(chef_dir, '*', 'config.yml')).map { |path| File.basename(File.dirname(path)) }.sort
chef_server = ENV.fetch('CHEF_SERVER', '')
unless servers.include?(chef_server)
  problem = chef_server.empty? ? 'CHEF_SERVER is not set' : "CHEF_SERVER=#{chef_server} names no server"
  raise ArgumentError, "#{problem}: set CHEF_SERVER to one of #{servers.join(', ')} " \
                       "(a server is a directory #{chef_dir}/<server>/ with a config.yml)"
end
server_config = YAML.safe_load(File.read(File.join(chef_dir, chef_server, 'config.yml')))

chef_server_url   server_config.fetch('server')
node_name         server_config.fetch('node_name')
client_key        File.join(chef_dir, chef_server, 'private.pem')
cookbook_path     [File.expand_path('../cookbooks', chef_dir)]
# TLS is always verified; the servers' CA certificates are trusted from .chef/ca_certs/.
ssl_verify_mode   :verify_peer
trusted_certs_dir File.join(chef_dir, 'ca_certs')
