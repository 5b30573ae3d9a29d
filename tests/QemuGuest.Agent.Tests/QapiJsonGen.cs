using System.Collections.Generic;
using System.Linq;
using System.Text.Json.Nodes;
using CsCheck;
using QemuGuest.Protocol.Validation;

namespace QemuGuest.Tests.Shared;

/// <summary>
/// JSON for a QAPI type from the generated descriptors: mostly of the declared shape, sometimes
/// broken (a wrong type, a member dropped or added), so properties see both verdicts. Shared by
/// the agent's and the relay's property tests (linked into both projects).
/// </summary>
internal static class QapiJsonGen
{
    public static Gen<T> Pick<T>(IReadOnlyList<T> items) => Gen.Int[0, items.Count - 1].Select(i => items[i]);

    public static readonly Gen<JsonNode?> AnyJson = Gen.Recursive<JsonNode?>((depth, self) =>
    {
        var scalar = Gen.OneOf(
            Gen.Long.Select(v => (JsonNode?)JsonValue.Create(v)),
            Gen.ULong.Select(v => (JsonNode?)JsonValue.Create(v)),
            Gen.Double.Where(double.IsFinite).Select(v => (JsonNode?)JsonValue.Create(v)),
            Gen.String[0, 6].Select(v => (JsonNode?)JsonValue.Create(v)),
            Pick(new[] { "set", "cur", "end", "r", "w+", "merged", "true", "AAAA", "aGkK", "-1" }).Select(v => (JsonNode?)JsonValue.Create(v)),
            Gen.Bool.Select(v => (JsonNode?)JsonValue.Create(v)),
            Gen.Const((JsonNode?)null));
        return depth >= 3 ? scalar : Gen.Frequency(
            (4, scalar),
            (1, self.List[0, 3].Select(items => (JsonNode?)new JsonArray(items.Select(i => i?.DeepClone()).ToArray()))),
            (1, Gen.Select(Gen.String[1, 4], self).List[0, 3].Select(ms => (JsonNode?)ToObject(ms))));
    });

    private static JsonObject ToObject(IEnumerable<(string Name, JsonNode? Value)> members)
    {
        var o = new JsonObject();
        foreach (var (name, value) in members)
        {
            o[name] = value?.DeepClone();
        }

        return o;
    }

    /// <summary>A value of the declared type, then maybe broken: wrong type, member dropped or added.</summary>
    private static Gen<JsonNode?> Shaped(QapiTypeDescriptor d, int depth) => Gen.Frequency(
        (8, Valid(d, depth)),
        (1, AnyJson));

    public static Gen<JsonNode?> Valid(QapiTypeDescriptor d, int depth) => d switch
    {
        QapiBuiltinDescriptor b => b.Kind switch
        {
            QapiBuiltin.Str => Gen.String[0, 8].Select(v => (JsonNode?)JsonValue.Create(v)),
            QapiBuiltin.Bool => Gen.Bool.Select(v => (JsonNode?)JsonValue.Create(v)),
            QapiBuiltin.Number => Gen.Double.Where(double.IsFinite).Select(v => (JsonNode?)JsonValue.Create(v)),
            QapiBuiltin.Null => Gen.Const((JsonNode?)null),
            QapiBuiltin.Any => AnyJson,
            QapiBuiltin.UInt8 or QapiBuiltin.UInt16 or QapiBuiltin.UInt32 or QapiBuiltin.UInt64 or QapiBuiltin.Size =>
                Gen.Frequency((3, Gen.Int[0, 70000].Select(v => (long)v)), (1, Gen.Long)).Select(v => (JsonNode?)JsonValue.Create(v)),
            _ => Gen.Frequency((3, Gen.Int[-70000, 70000].Select(v => (long)v)), (1, Gen.Long)).Select(v => (JsonNode?)JsonValue.Create(v)),
        },
        QapiEnumDescriptor e => Gen.Frequency(
            (5, Pick(e.Values).Select(v => (JsonNode?)JsonValue.Create(v))),
            (1, Gen.String[0, 4].Select(v => (JsonNode?)JsonValue.Create(v)))),
        QapiArrayDescriptor a => depth > 3
            ? Gen.Const((JsonNode?)new JsonArray())
            : Shaped(a.Element, depth + 1).List[0, 3].Select(items => (JsonNode?)new JsonArray(items.Select(i => i?.DeepClone()).ToArray())),
        QapiAlternateDescriptor alt => Pick(alt.Alternatives).SelectMany(t => Valid(t, depth + 1)),
        QapiObjectDescriptor o => Object(o, depth),
        _ => AnyJson,
    };

    public static Gen<JsonNode?> Object(QapiObjectDescriptor o, int depth)
    {
        if (depth > 3)
        {
            return Gen.Const((JsonNode?)new JsonObject());
        }

        var members = new List<QapiMemberDescriptor>(o.Members);
        Gen<List<(string, JsonNode?)>> gen = MembersGen(members, depth);
        if (o.Discriminator is { } disc && o.Variants is { } variants)
        {
            // The discriminator's value picks the variant's extra members.
            gen = gen.SelectMany(list =>
            {
                var tag = list.FirstOrDefault(m => m.Item1 == disc).Item2;
                string? key = tag is JsonValue v && v.TryGetValue(out string? s) ? s : null;
                if (key is null || !variants.TryGetValue(key, out var extra))
                {
                    return Gen.Const(list);
                }

                return MembersGen(extra, depth).Select(more => list.Concat(more).ToList());
            });
        }

        return Gen.Select(gen, Gen.Int[0, 9], Gen.String[1, 6], AnyJson).Select((list, op, name, value) =>
        {
            if (op == 0 && list.Count > 0)
            {
                list.RemoveAt(name.Length % list.Count);
            }
            else if (op == 1)
            {
                list.Add((name, value));
            }

            return (JsonNode?)ToObject(list);
        });
    }

    private static Gen<List<(string, JsonNode?)>> MembersGen(IReadOnlyList<QapiMemberDescriptor> members, int depth)
    {
        Gen<List<(string, JsonNode?)>> gen = Gen.Const(new List<(string, JsonNode?)>()).Select(_ => new List<(string, JsonNode?)>());
        foreach (var m in members)
        {
            var member = m;
            gen = Gen.Select(gen, Gen.Int[0, 3], Shaped(member.Type, depth + 1)).Select((list, present, value) =>
            {
                if (!member.Optional || present > 0)
                {
                    list.Add((member.Name, value));
                }

                return list;
            });
        }

        return gen;
    }
}
