using System;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CsCheck;
using QemuGuest.Protocol;
using QemuGuest.Protocol.Marshalling;
using QemuGuest.Protocol.Validation;

namespace QemuGuest.Generator.Tests;

/// <summary>Generated types + their descriptor table, reached by reflection (tests only).</summary>
internal sealed class TypeUniverse
{
    private readonly Assembly _assembly;
    private readonly string _ns;
    private readonly Type _descriptors;

    public TypeUniverse(Assembly assembly, string ns, Type descriptors)
    {
        _assembly = assembly;
        _ns = ns;
        _descriptors = descriptors;
    }

    public string[] Names() =>
        _descriptors.GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => typeof(QapiTypeDescriptor).IsAssignableFrom(f.FieldType))
            .Where(f => _assembly.GetType(_ns + "." + f.Name) is not null)
            .Select(f => f.Name)
            .OrderBy(n => n, StringComparer.Ordinal)
            .ToArray();

    private QapiTypeDescriptor Descriptor(string name) => (QapiTypeDescriptor)_descriptors.GetField(name)!.GetValue(null)!;

    private Func<JsonElement, object> Reader(string name)
    {
        var type = _assembly.GetType(_ns + "." + name)!;
        var holder = type.IsEnum ? _assembly.GetType(_ns + "." + name + "Extensions")! : type;
        var read = holder.GetMethod("ReadJson", BindingFlags.Public | BindingFlags.Static)!;
        return e =>
        {
            try
            {
                return read.Invoke(null, new object[] { e, QapiPath.Root })!;
            }
            catch (TargetInvocationException ex) when (ex.InnerException is not null)
            {
                throw ex.InnerException;
            }
        };
    }

    private Action<object, Utf8JsonWriter> Writer(string name)
    {
        var type = _assembly.GetType(_ns + "." + name)!;
        if (type.IsEnum)
        {
            var m = _assembly.GetType(_ns + "." + name + "Extensions")!.GetMethod("WriteJson")!;
            return (v, w) => m.Invoke(null, new[] { v, w });
        }
        var wm = type.GetMethod("WriteJson", new[] { typeof(Utf8JsonWriter) })!;
        return (v, w) => wm.Invoke(v, new object[] { w });
    }

    /// <summary>random valid JSON → ReadJson → WriteJson: same JSON; ReadJson again: equal value.</summary>
    public void RoundTrip(string name, long iterations)
    {
        var descriptor = Descriptor(name);
        var read = Reader(name);
        var write = Writer(name);
        JsonGen.For(descriptor, 0).Sample(node =>
        {
            string json = node is null ? "null" : node.ToJsonString();
            using var doc = JsonDocument.Parse(json);
            Assert.Null(Validate(descriptor, doc.RootElement));
            object value = read(doc.RootElement);
            string written = Write(write, value);
            Assert.True(JsonNode.DeepEquals(JsonNode.Parse(json), JsonNode.Parse(written)), name + ": " + json + "\n≠\n" + written);
            using var doc2 = JsonDocument.Parse(written);
            object again = read(doc2.RootElement);
            // 'any' members hold JsonElements, which compare by document: compare those through JSON only.
            if (!json.Contains("\"anything\"", StringComparison.Ordinal))
            {
                Assert.Equal(value, again);
            }
            Assert.Equal(written, Write(write, again));
        }, iter: iterations);
    }

    /// <summary>JSON of any type, sometimes mutated: the generated reader and the validator say the same.</summary>
    public void Agree(string name, long iterations)
    {
        var descriptor = Descriptor(name);
        var read = Reader(name);
        var others = Names().Select(Descriptor).ToArray();
        var gen = Gen.Int[0, others.Length - 1].SelectMany(i => JsonGen.For(others[i], 0)).SelectMany(JsonGen.Mutate);
        gen.Sample(node =>
        {
            string json = node is null ? "null" : node.ToJsonString();
            using var doc = JsonDocument.Parse(json);
            string? byValidator = Validate(descriptor, doc.RootElement);
            string? byReader = null;
            try
            {
                read(doc.RootElement);
            }
            catch (QapiUnmarshalException e)
            {
                byReader = e.Message;
            }
            // The one deliberate difference: the validator (the relay) also refuses a 'path-component'
            // member that is not one name, which the readers accept so the cmdlets can report it per item.
            bool nameOnly = byReader is null && byValidator is not null && byValidator.Contains("is not a single path component", StringComparison.Ordinal);
            Assert.True(byValidator == byReader || nameOnly, name + ": " + json + ": validator " + (byValidator ?? "ok") + ", reader " + (byReader ?? "ok"));
        }, iter: iterations);
    }

    private static string? Validate(QapiTypeDescriptor d, JsonElement e)
    {
        try
        {
            SchemaValidator.Check(d, e, QapiPath.Root);
            return null;
        }
        catch (QapiUnmarshalException ex)
        {
            return ex.Message;
        }
    }

    private static string Write(Action<object, Utf8JsonWriter> write, object value)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            write(value, w);
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }
}
