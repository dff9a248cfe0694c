-- camctl doctor, in the server: what Prosody offers camctl, read in one admin-socket request and
-- returned as one JSON text ("Result: {...}"). It only reads: module tables, the configuration,
-- event handler lists; it calls no function of mod_client_management.
--
-- ARGS (hex-encoded, see camctl's src/transports/socket/lua.ts): hosts = JSON array of the virtual hosts
-- asked about, or absent for every virtual host.
local ARGS = ...;
local json = require "prosody.util.json";
local configmanager = require "prosody.core.configmanager";
local modulemanager = require "prosody.core.modulemanager";

local function unhex(h)
	if h == nil then return nil; end
	return (h:gsub("%x%x", function (c) return string.char(tonumber(c, 16)); end));
end

-- The file a Lua function was defined in (a module's path), or nil.
local function source_of(f)
	if type(f) ~= "function" then return nil; end
	local info = debug.getinfo(f, "S");
	local src = info and info.source;
	if type(src) ~= "string" or src:sub(1, 1) ~= "@" then return nil; end
	return src:sub(2);
end

local function loaded(host, name)
	local modules = modulemanager.get_modules(host);
	local global = modulemanager.get_modules("*");
	return (modules ~= nil and modules[name] ~= nil) or (global ~= nil and global[name] ~= nil);
end

-- The files of the handlers of `event` on `host` (which modules answer it).
local function handler_files(host, event)
	local events = prosody.hosts[host].events;
	local handlers = events and events.get_handlers and events.get_handlers(event);
	local files = {};
	for _, h in ipairs(handlers or {}) do
		files[#files + 1] = source_of(h) or "?";
	end
	return files;
end

-- The storage a host uses: "internal", "sql", another backend's name, or "per-store" (a table of
-- stores), and the SQL driver when the kind (or the per-store default) is sql.
local function storage_of(name)
	local s = configmanager.get(name, "storage");
	local kind, default = s, nil;
	if s == nil then kind = "internal";
	elseif type(s) == "table" then kind = "per-store"; default = configmanager.get(name, "default_storage") or "internal";
	elseif type(s) ~= "string" then kind = tostring(s); end
	local driver;
	if kind == "sql" or default == "sql" then
		local sql = configmanager.get(name, "sql");
		driver = type(sql) == "table" and type(sql.driver) == "string" and sql.driver or nil;
	end
	return kind, driver;
end

local function describe(name)
	local host = prosody.hosts[name];
	local modules = modulemanager.get_modules(name) or {};
	local cm = modules.client_management;
	local companion = modules.client_management_admin;
	local users = host.users;
	local enforce = configmanager.get(name, "enforce_client_ids");
	local storage, storage_driver = storage_of(name);
	return {
		name = name;
		client_management = type(cm) == "table" and type(cm.get_active_clients) == "function";
		client_management_source = type(cm) == "table" and source_of(cm.get_active_clients) or nil;
		sasl2 = loaded(name, "sasl2");
		sasl2_fast = loaded(name, "sasl2_fast");
		tokenauth = loaded(name, "tokenauth");
		saslauth = loaded(name, "saslauth");
		enforce_client_ids = enforce == true;
		companion = type(companion) == "table";
		companion_version = type(companion) == "table" and type(rawget(companion, "camctl_companion_version")) == "string"
			and rawget(companion, "camctl_companion_version") or nil;
		-- XEP-0494: which module files answer urn:xmpp:cam:0 (the Prosody-13-era module does not).
		cam0 = handler_files(name, "iq-get/self/urn:xmpp:cam:0:list");
		manage_clients = handler_files(name, "iq-get/self/xmpp:prosody.im/protocol/manage-clients:list");
		users_listable = type(users) == "table" and type(users.users) == "function";
		-- Snikket and the history: mod_snikket_client_id, mod_audit, mod_audit_auth (global or per host).
		snikket_client_id = loaded(name, "snikket_client_id");
		audit = loaded(name, "audit");
		audit_auth = loaded(name, "audit_auth");
		storage = storage;
		storage_driver = storage_driver;
	};
end

-- Global options named snikket_* (Snikket's configuration sets several), sorted.
local function snikket_options()
	local names = {};
	local ok, config = pcall(configmanager.getconfig);
	local global = ok and type(config) == "table" and config["*"] or nil;
	if type(global) == "table" then
		for k in pairs(global) do
			if type(k) == "string" and k:match("^snikket_") then names[#names + 1] = k; end
		end
	end
	table.sort(names);
	return names;
end

local wanted = ARGS.hosts and json.decode(unhex(ARGS.hosts)) or nil;
local data_path = configmanager.get("*", "data_path");
if type(data_path) ~= "string" then data_path = prosody.paths and prosody.paths.data or nil; end
local result = { version = tostring(prosody.version or ""); hosts = {}; missing = {};
	data_path = type(data_path) == "string" and data_path or nil; snikket_options = snikket_options() };
if wanted then
	for _, name in ipairs(wanted) do
		local host = prosody.hosts[name];
		if host and host.type == "local" then
			result.hosts[#result.hosts + 1] = describe(name);
		else
			result.missing[#result.missing + 1] = name;
		end
	end
else
	local names = {};
	for name, host in pairs(prosody.hosts) do
		if host.type == "local" then names[#names + 1] = name; end
	end
	table.sort(names);
	for _, name in ipairs(names) do result.hosts[#result.hosts + 1] = describe(name); end
end
return json.encode(result);
