using System;
using System.Text.Json;

namespace QemuGuest.Protocol.Marshalling;

/// <summary>Reading a command's "return" value on the client side.</summary>
public static class QapiReply
{
    /// <summary>
    /// Reads the return value; a value that does not match the schema means the agent broke the
    /// protocol, so it surfaces as <see cref="QgaProtocolException"/> (with QEMU's text inside).
    /// </summary>
    public static T Read<T>(string command, JsonElement value, Func<JsonElement, QapiPath, T> read)
    {
        try
        {
            return read(value, QapiPath.Root);
        }
        catch (QapiUnmarshalException e)
        {
            throw new QgaProtocolException(command, command + ": reply does not match the schema: " + e.Message, e);
        }
    }
}
