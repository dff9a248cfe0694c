-- The next reply of a record stream whose last trailer said more=true (see record_stream.lua).
local stream = camctl_record_stream;
camctl_record_stream = nil;
if type(stream) ~= "table" then
	-- Nothing waits on this connection: say so in the trailer's own form.
	return "base64:" .. require "prosody.util.encodings".base64.encode('{"bytes":0,"err":"no-stream","more":false,"pieces":0,"records":0}');
end
return stream.resume(stream);
