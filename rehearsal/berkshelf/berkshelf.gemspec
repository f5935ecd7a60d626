# The stand-in Berkshelf (lib/berkshelf/cli.rb says what it models) as a gem, so that Bundler puts
# it on the load path and binstubs find its `berks` as they find the real gem's: Berkshelf 8.0.7's
# berkshelf.gemspec (github.com/berkshelf/berkshelf @ 602dd4b) names its executables from bin/ and
# requires from lib/. The version is the one the generated Gemfile pins.
Gem::Specification.new do |spec|
  spec.name = "berkshelf"
  spec.version = "8.0.22"
  spec.summary = "A stand-in for Berkshelf that loads its Chef configuration as Berkshelf does"
  spec.authors = ["chef-multiserver-kit"]
  spec.license = "Apache-2.0"
  spec.files = ["bin/berks", "lib/berkshelf/cli.rb"]
  spec.bindir = "bin"
  spec.executables = ["berks"]
  spec.require_paths = ["lib"]
  spec.add_dependency "chef-config"
end
