using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CsCheck;
using QemuGuest.Protocol;
using QemuGuest.Protocol.Marshalling;
using QemuGuest.Protocol.Qga;
using QemuGuest.Protocol.Validation;

namespace QemuGuest.Generator.Tests;

/// <summary>
/// Property tests over every type of the real schema (the code generated into QemuGuest.Protocol):
/// random valid JSON (built from the descriptor tables) → ReadJson → WriteJson → same JSON, and
/// ReadJson again → an equal record; and, for any JSON thrown at any type, the generated reader and
/// the descriptor-driven validator accept or refuse it with the same QEMU text.
/// </summary>
public sealed class RoundTripTests
{
    private static readonly TypeUniverse Real = new(typeof(GuestAgentCommands).Assembly, "QemuGuest.Protocol.Qga", typeof(QgaSchemaDescriptors));

    /// <summary>The "variants" scenario (every built-in, union with an empty branch, alternate), compiled in memory.</summary>
    private static readonly Lazy<TypeUniverse> Variants = new(() =>
    {
        var (_, output, diagnostics) = GeneratorHarness.Run(BaselineTests.ScenarioFiles("variants"), "types,validation");
        Assert.Empty(diagnostics);
        using var ms = new MemoryStream();
        var emit = output.Emit(ms);
        Assert.True(emit.Success, string.Join("\n", emit.Diagnostics));
        ms.Position = 0;
        var asm = new System.Runtime.Loader.AssemblyLoadContext("scenario-variants").LoadFromStream(ms);
        return new TypeUniverse(asm, "Scenario.Qga", asm.GetType("Scenario.Qga.QgaSchemaDescriptors", true)!);
    });

    /// <summary>Every type descriptor of the real schema with its generated C# type.</summary>
    public static IEnumerable<object[]> Types() => Real.Names().Select(n => new object[] { n });

    [Fact]
    public void EveryEmittedTypeIsCovered()
    {
        // Guard against the reflection silently finding nothing.
        Assert.True(Real.Names().Count() > 50, "expected the real schema's types, found " + Real.Names().Count());
        Assert.Equal(
            new[] { "Circle", "Numbers", "Rect", "Shape", "ShapeEchoArguments", "ShapeKind", "Where" },
            Variants.Value.Names());
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void RandomValuesRoundTrip(string name) => Real.RoundTrip(name, 100);

    [Theory]
    [MemberData(nameof(Types))]
    public void ReaderAndValidatorAgreeOnAnyInput(string name) => Real.Agree(name, 100);

    [Fact]
    public void ScenarioVariantsRoundTrips()
    {
        foreach (var name in Variants.Value.Names())
        {
            Variants.Value.RoundTrip(name, 300);
            Variants.Value.Agree(name, 300);
        }
    }
}

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

/// <summary>Random JSON that is valid for a descriptor.</summary>
internal static class JsonGen
{
    private static readonly Gen<JsonNode?> AnyScalar = Gen.OneOf(
        Gen.Long.Select(v => (JsonNode?)JsonValue.Create(v)),
        Gen.String.Select(v => (JsonNode?)JsonValue.Create(v)),
        Gen.Bool.Select(v => (JsonNode?)JsonValue.Create(v)),
        Gen.Const((JsonNode?)null));

    private static Gen<T> Pick<T>(T[] values) => Gen.Int[0, values.Length - 1].Select(i => values[i]);

    public static Gen<JsonNode?> For(QapiTypeDescriptor d, int depth) => d switch
    {
        QapiBuiltinDescriptor b => Builtin(b.Kind),
        QapiEnumDescriptor e => Pick(e.Values.ToArray()).Select(v => (JsonNode?)JsonValue.Create(v)),
        QapiArrayDescriptor a => (depth > 3 ? Gen.Const(Array.Empty<JsonNode?>()) : For(a.Element, depth + 1).Array[0, 3])
            .Select(items => (JsonNode?)new JsonArray(items.Select(i => i?.DeepClone()).ToArray())),
        QapiAlternateDescriptor alt => Gen.Int[0, alt.Alternatives.Count - 1].SelectMany(i => For(alt.Alternatives[i], depth + 1)),
        QapiObjectDescriptor o => Object(o, depth),
        _ => throw new ArgumentException(d.Name),
    };

    private static Gen<JsonNode?> Builtin(QapiBuiltin kind) => kind switch
    {
        QapiBuiltin.Str => Gen.String.Select(v => (JsonNode?)JsonValue.Create(v)),
        QapiBuiltin.Int or QapiBuiltin.Int64 => Gen.Long.Select(v => (JsonNode?)JsonValue.Create(v)),
        QapiBuiltin.Int8 => Gen.SByte.Select(v => (JsonNode?)JsonValue.Create((long)v)),
        QapiBuiltin.Int16 => Gen.Short.Select(v => (JsonNode?)JsonValue.Create((long)v)),
        QapiBuiltin.Int32 => Gen.Int.Select(v => (JsonNode?)JsonValue.Create((long)v)),
        QapiBuiltin.UInt8 => Gen.Byte.Select(v => (JsonNode?)JsonValue.Create((ulong)v)),
        QapiBuiltin.UInt16 => Gen.UShort.Select(v => (JsonNode?)JsonValue.Create((ulong)v)),
        QapiBuiltin.UInt32 => Gen.UInt.Select(v => (JsonNode?)JsonValue.Create((ulong)v)),
        QapiBuiltin.UInt64 or QapiBuiltin.Size => Gen.ULong.Select(v => (JsonNode?)JsonValue.Create(v)),
        QapiBuiltin.Number => Gen.Double.Where(double.IsFinite).Select(v => (JsonNode?)JsonValue.Create(v)),
        QapiBuiltin.Bool => Gen.Bool.Select(v => (JsonNode?)JsonValue.Create(v)),
        QapiBuiltin.Null => Gen.Const((JsonNode?)null),
        _ => AnyScalar,
    };

    private static Gen<JsonNode?> Object(QapiObjectDescriptor o, int depth)
    {
        Gen<List<KeyValuePair<string, JsonNode?>>> members = Members(o.Members, depth);
        if (o.Discriminator is not null)
        {
            var disc = o.Members.First(m => m.Name == o.Discriminator);
            var values = ((QapiEnumDescriptor)disc.Type).Values.ToArray();
            members = Gen.Select(members, Pick(values), (list, v) => (list, v)).SelectMany(t =>
            {
                var list = t.list.Where(kv => kv.Key != o.Discriminator).ToList();
                list.Insert(0, new(o.Discriminator, JsonValue.Create(t.v)));
                return o.Variants!.TryGetValue(t.v, out var variant)
                    ? Members(variant, depth).Select(extra => list.Concat(extra).ToList())
                    : Gen.Const(list);
            });
        }
        return members.Select(list =>
        {
            var obj = new JsonObject();
            foreach (var kv in list)
            {
                obj[kv.Key] = kv.Value?.DeepClone();
            }
            return (JsonNode?)obj;
        });
    }

    private static Gen<List<KeyValuePair<string, JsonNode?>>> Members(IEnumerable<QapiMemberDescriptor> members, int depth)
    {
        Gen<List<KeyValuePair<string, JsonNode?>>> gen = Gen.Const(0).Select(_ => new List<KeyValuePair<string, JsonNode?>>());
        foreach (var m in members)
        {
            // A 'path-component' string is valid only as one name; the validator holds it to that.
            var value = m.PathComponent && m.Type is QapiBuiltinDescriptor { Kind: QapiBuiltin.Str }
                ? Gen.String.Where(s => PathComponent.Problem(s) is null).Select(v => (JsonNode?)JsonValue.Create(v))
                : For(m.Type, depth + 1);
            var member = m.Optional
                ? Gen.Bool.SelectMany(present => present && depth < 4
                    ? value.Select(v => (true, v))
                    : Gen.Const((false, (JsonNode?)null)))
                : value.Select(v => (true, v));
            gen = Gen.Select(gen, member, (list, mv) =>
            {
                var copy = new List<KeyValuePair<string, JsonNode?>>(list);
                if (mv.Item1)
                {
                    copy.Add(new(m.Name, mv.Item2));
                }
                return copy;
            });
        }
        return gen;
    }

    /// <summary>Leaves the JSON alone, or breaks it a little: drop/add a member, change a value's kind.</summary>
    public static Gen<JsonNode?> Mutate(JsonNode? node) => Gen.Int[0, 4].SelectMany(kind =>
    {
        var copy = node?.DeepClone();
        switch (kind, copy)
        {
            case (1, JsonObject o) when o.Count > 0:
                return Gen.Int[0, o.Count - 1].Select(i =>
                {
                    o.Remove(o.ElementAt(i).Key);
                    return (JsonNode?)o;
                });
            case (2, JsonObject o):
                o["unexpected-member"] = 1;
                return Gen.Const((JsonNode?)o);
            case (3, JsonObject o) when o.Count > 0:
                return Gen.Select(Gen.Int[0, o.Count - 1], AnyScalar, (i, v) =>
                {
                    o[o.ElementAt(i).Key] = v;
                    return (JsonNode?)o;
                });
            case (4, _):
                return AnyScalar;
            default:
                return Gen.Const(copy);
        }
    });
}
