#
# Cookbook:: example
# Recipe:: default
#
log 'example' do
  message "chef-client ran the example cookbook from #{Chef::Config[:chef_server_url]}"
  level :info
end
