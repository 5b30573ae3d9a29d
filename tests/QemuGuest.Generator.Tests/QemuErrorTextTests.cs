using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using System.Text.Json;
using QemuGuest.Protocol;
using QemuGuest.Protocol.Marshalling;
using QemuGuest.Protocol.Qga;
using QemuGuest.Protocol.Validation;

namespace QemuGuest.Generator.Tests;

/// <summary>
/// The error texts of the stock agent, recorded from Debian's qemu-ga 7.2.22
/// (<c>qemu-ga -m unix-listen -p SOCK -t DIR</c>, requests sent with socat, 2026-11-26), checked
/// against both the generated readers of the real schema (QemuGuest.Protocol.Qga) and the
/// descriptor-driven <see cref="SchemaValidator"/>. Only argument errors were provoked, and never on
/// commands that act on the machine (no shutdown/suspend/set-time/set-password/freeze/vcpus/memory/fstrim).
/// </summary>
public sealed class QemuErrorTextTests
{
    /// <summary>(request, the "desc" qemu-ga 7.2 replied with).</summary>
    public static IEnumerable<object[]> Recorded() => new[]
    {
        R("""{"execute":"guest-file-open","arguments":{}}""", "Parameter 'path' is missing"),
        R("""{"execute":"guest-file-open","arguments":{"path":"/tmp/x","foo":1}}""", "Parameter 'foo' is unexpected"),
        R("""{"execute":"guest-file-open","arguments":{"foo":1,"path":"/tmp/x"}}""", "Parameter 'foo' is unexpected"),
        R("""{"execute":"guest-file-open","arguments":{"foo":1,"path":2}}""", "Invalid parameter type for 'path', expected: string"),
        R("""{"execute":"guest-file-open","arguments":{"foo":1}}""", "Parameter 'path' is missing"),
        R("""{"execute":"guest-file-open","arguments":{"path":1}}""", "Invalid parameter type for 'path', expected: string"),
        R("""{"execute":"guest-file-read","arguments":{"handle":"a"}}""", "Invalid parameter type for 'handle', expected: integer"),
        R("""{"execute":"guest-file-read","arguments":{"handle":1.5}}""", "Invalid parameter type for 'handle', expected: integer"),
        R("""{"execute":"guest-file-read","arguments":{"handle":99999999999999999999}}""", "Invalid parameter type for 'handle', expected: integer"),
        R("""{"execute":"guest-file-read","arguments":{"handle":1, "count":true}}""", "Invalid parameter type for 'count', expected: integer"),
        R("""{"execute":"guest-file-read","arguments":{"handle":1, "count":null}}""", "Invalid parameter type for 'count', expected: integer"),
        R("""{"execute":"guest-file-seek","arguments":{"handle":1, "offset":0, "whence":"bogus"}}""", "Parameter 'whence' does not accept value 'bogus'"),
        R("""{"execute":"guest-file-seek","arguments":{"handle":1, "offset":0, "whence":"SET"}}""", "Parameter 'whence' does not accept value 'SET'"),
        R("""{"execute":"guest-file-seek","arguments":{"handle":1, "offset":0, "whence":true}}""", "Invalid parameter type for 'whence', expected: GuestFileWhence"),
        R("""{"execute":"guest-file-seek","arguments":{"handle":1, "offset":0, "whence":null}}""", "Invalid parameter type for 'whence', expected: GuestFileWhence"),
        R("""{"execute":"guest-file-seek","arguments":{"handle":1, "offset":0, "whence":{}}}""", "Invalid parameter type for 'whence', expected: GuestFileWhence"),
        R("""{"execute":"guest-file-seek","arguments":{"handle":1, "offset":0, "whence":[]}}""", "Invalid parameter type for 'whence', expected: GuestFileWhence"),
        R("""{"execute":"guest-file-seek","arguments":{"handle":1, "offset":0, "whence":1.5}}""", "Invalid parameter type for 'whence', expected: integer"),
        R("""{"execute":"guest-file-seek","arguments":{"handle":1, "offset":0}}""", "Parameter 'whence' is missing"),
        R("""{"execute":"guest-file-seek","arguments":{"handle":1, "offset":1e3, "whence":1}}""", "Invalid parameter type for 'offset', expected: integer"),
        R("""{"execute":"guest-file-seek","arguments":{"handle":1, "offset":1.0, "whence":1}}""", "Invalid parameter type for 'offset', expected: integer"),
        R("""{"execute":"guest-file-seek","arguments":{"handle":1, "offset":9223372036854775808, "whence":1}}""", "Invalid parameter type for 'offset', expected: integer"),
        // Accepted by the unmarshaller (qemu-ga then said "handle '1' has not been found").
        R("""{"execute":"guest-file-seek","arguments":{"handle":1, "offset":9223372036854775807, "whence":1}}""", null),
        R("""{"execute":"guest-file-seek","arguments":{"handle":1, "offset":-9223372036854775808, "whence":1}}""", null),
        R("""{"execute":"guest-file-seek","arguments":{"handle":1, "offset":-0, "whence":1}}""", null),
        R("""{"execute":"guest-exec","arguments":{"path":"/bin/true","arg":["a",1]}}""", "Invalid parameter type for 'arg[1]', expected: string"),
        R("""{"execute":"guest-exec","arguments":{"path":"/bin/true","arg":[1],"zz":1}}""", "Invalid parameter type for 'arg[0]', expected: string"),
        R("""{"execute":"guest-exec","arguments":{"path":"/bin/true","arg":"x"}}""", "Invalid parameter type for 'arg', expected: array"),
        R("""{"execute":"guest-exec","arguments":{"path":"/bin/true","arg":{},"zz":1}}""", "Invalid parameter type for 'arg', expected: array"),
        R("""{"execute":"guest-exec","arguments":{"path":"/bin/true","arg":null,"zz":1}}""", "Invalid parameter type for 'arg', expected: array"),
        R("""{"execute":"guest-exec","arguments":{"zz":1}}""", "Parameter 'path' is missing"),
        R("""{"execute":"guest-exec","arguments":{"path":{},"zz":1}}""", "Invalid parameter type for 'path', expected: string"),
        R("""{"execute":"guest-ping","arguments":{"x":1}}""", "Parameter 'x' is unexpected"),
        R("""{"execute":"guest-sync","arguments":{"id":"x"}}""", "Invalid parameter type for 'id', expected: integer"),
    };

    /// <summary>Envelope errors (request → class, desc), recorded the same way.</summary>
    public static IEnumerable<object[]> RecordedEnvelope() => new[]
    {
        new object[] { """{"execute":"guest-ping","foo":1}""", "GenericError", "QMP input member 'foo' is unexpected" },
        new object[] { """{"exec-oob":"guest-ping"}""", "GenericError", "QMP input member 'exec-oob' is unexpected" },
        new object[] { """{"execute":"guest-ping","control":{}}""", "GenericError", "QMP input member 'control' is unexpected" },
        new object[] { """{"execute":1}""", "GenericError", "QMP input member 'execute' must be a string" },
        new object[] { """{"arguments":{}}""", "GenericError", "QMP input lacks member 'execute'" },
        new object[] { """{}""", "GenericError", "QMP input lacks member 'execute'" },
        new object[] { """[]""", "GenericError", "QMP input must be a JSON object" },
        new object[] { """{"execute":"guest-ping","arguments":[]}""", "GenericError", "QMP input member 'arguments' must be an object" },
        new object[] { """{"execute":"guest-ping","arguments":null}""", "GenericError", "QMP input member 'arguments' must be an object" },
        new object[] { """{"execute":"guest-set-user-password-nope"}""", "CommandNotFound", "The command guest-set-user-password-nope has not been found" },
    };

    /// <summary>
    /// Texts read from QEMU's qobject-input-visitor.c / qapi-visit-core.c, not reachable on the stock
    /// agent without sending forbidden commands (nested paths exist only under guest-set-vcpus and
    /// guest-set-memory-blocks; the 7.2 schema has no uintN argument). Checked here, never sent.
    /// </summary>
    public static IEnumerable<object[]> FromSource() => new[]
    {
        R("""{"execute":"guest-set-vcpus","arguments":{"vcpus":[{"logical-id":0}]}}""", "Parameter 'vcpus[0].online' is missing"),
        R("""{"execute":"guest-set-vcpus","arguments":{"vcpus":[{"logical-id":0,"online":true,"x":1}]}}""", "Parameter 'vcpus[0].x' is unexpected"),
        R("""{"execute":"guest-set-vcpus","arguments":{"vcpus":[{"logical-id":0,"online":1}]}}""", "Invalid parameter type for 'vcpus[0].online', expected: boolean"),
        R("""{"execute":"guest-set-vcpus","arguments":{"vcpus":[1]}}""", "Invalid parameter type for 'vcpus[0]', expected: object"),
        R("""{"execute":"guest-set-memory-blocks","arguments":{"mem-blks":[{"phys-index":"x","online":true}]}}""", "Parameter 'mem-blks[0].phys-index' expects uint64"),
    };

    private static object[] R(string request, string? desc) => new object[] { request, desc! };

    [Theory]
    [MemberData(nameof(Recorded))]
    [MemberData(nameof(FromSource))]
    public void GeneratedReaderSaysWhatQemuSays(string request, string? expected)
    {
        using var doc = JsonDocument.Parse(request);
        string command = doc.RootElement.GetProperty("execute").GetString()!;
        var args = doc.RootElement.TryGetProperty("arguments", out var a) ? a : QapiJson.EmptyObject;
        Assert.Equal(expected, ReadArguments(command, args));
    }

    [Theory]
    [MemberData(nameof(Recorded))]
    [MemberData(nameof(FromSource))]
    public void ValidatorSaysWhatQemuSays(string request, string? expected)
    {
        using var doc = JsonDocument.Parse(request);
        var error = QgaSchemaDescriptors.Validator.ValidateRequest(doc.RootElement);
        Assert.Equal(expected, error?.Description);
        if (error is not null)
        {
            Assert.Equal("GenericError", error.ErrorClass);
        }
    }

    [Theory]
    [MemberData(nameof(RecordedEnvelope))]
    public void ValidatorEnvelopeSaysWhatQemuSays(string request, string errorClass, string expected)
    {
        using var doc = JsonDocument.Parse(request);
        var error = QgaSchemaDescriptors.Validator.ValidateRequest(doc.RootElement);
        Assert.NotNull(error);
        Assert.Equal(errorClass, error!.ErrorClass);
        Assert.Equal(expected, error.Description);
    }

    [Fact]
    public void SizedIntegerRangeUsesTheBareName()
    {
        // qapi-visit-core.c visit_type_uintN: range errors name the member only, not its path.
        using var doc = JsonDocument.Parse("""{"type":"pci","vendor-id":70000,"device-id":1}""");
        var e = Assert.Throws<QapiUnmarshalException>(() => GuestDeviceId.ReadJson(doc.RootElement, QapiPath.Root.Member("id")));
        Assert.Equal("Parameter 'vendor-id' expects uint16", e.Message);
        using var neg = JsonDocument.Parse("""{"type":"pci","vendor-id":-1,"device-id":1}""");
        e = Assert.Throws<QapiUnmarshalException>(() => GuestDeviceId.ReadJson(neg.RootElement, QapiPath.Root));
        Assert.Equal("Parameter 'vendor-id' expects uint16", e.Message);
    }

    /// <summary>Reads a command's arguments with the generated {Command}Arguments type, by reflection (test only).</summary>
    internal static string? ReadArguments(string command, JsonElement args)
    {
        var descriptor = QgaSchemaDescriptors.Validator.Find(command)!;
        if (descriptor.Arguments is null)
        {
            try
            {
                QapiJson.CheckUnexpected(args, QapiPath.Root, Array.Empty<string>());
                return null;
            }
            catch (QapiUnmarshalException e)
            {
                return e.Message;
            }
        }
        var field = typeof(QgaSchemaDescriptors).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Single(f => ReferenceEquals(f.GetValue(null), descriptor.Arguments));
        var type = typeof(GuestAgentCommands).Assembly.GetType("QemuGuest.Protocol.Qga." + field.Name, throwOnError: true)!;
        var read = type.GetMethod("ReadJson", BindingFlags.Public | BindingFlags.Static)!;
        try
        {
            read.Invoke(null, new object[] { args, QapiPath.Root });
            return null;
        }
        catch (TargetInvocationException e) when (e.InnerException is QapiUnmarshalException u)
        {
            return u.Message;
        }
    }
}
