using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Relay.Guest;

namespace QemuGuest.Relay.Tests;

public class FairQueueTests
{
    [Fact]
    public async Task Serves_producers_round_robin()
    {
        var q = new FairQueue<string>(100, 10, 1 << 20);
        object a = new(), b = new(), c = new();
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(EnqueueResult.Queued, q.TryEnqueue(a, "a" + i, 1));
        }

        Assert.Equal(EnqueueResult.Queued, q.TryEnqueue(b, "b0", 1));
        Assert.Equal(EnqueueResult.Queued, q.TryEnqueue(c, "c0", 1));
        Assert.Equal(EnqueueResult.Queued, q.TryEnqueue(b, "b1", 1));
        var order = new List<string>();
        for (int i = 0; i < 8; i++)
        {
            order.Add(await q.DequeueAsync(CancellationToken.None));
        }

        Assert.Equal(new[] { "a0", "b0", "c0", "a1", "b1", "a2", "a3", "a4" }, order);
    }

    [Fact]
    public void Enforces_bounds()
    {
        var q = new FairQueue<string>(3, 2, 100);
        object a = new(), b = new();
        Assert.Equal(EnqueueResult.Queued, q.TryEnqueue(a, "1", 10));
        Assert.Equal(EnqueueResult.Queued, q.TryEnqueue(a, "2", 10));
        Assert.Equal(EnqueueResult.ClientQueueFull, q.TryEnqueue(a, "3", 10));
        Assert.Equal(EnqueueResult.TooManyBytes, q.TryEnqueue(b, "4", 81));
        Assert.Equal(EnqueueResult.Queued, q.TryEnqueue(b, "5", 10));
        Assert.Equal(EnqueueResult.QueueFull, q.TryEnqueue(b, "6", 1));
        Assert.Equal(3, q.Count);
        Assert.Equal(30, q.Bytes);
    }

    [Fact]
    public async Task A_request_put_back_goes_first_in_its_producers_line()
    {
        // Pipelined guest-file-writes land at the file position: one put back behind its
        // successors would permute the file with no error anywhere (issue 23).
        var q = new FairQueue<string>(100, 4, 1 << 20);
        object a = new(), b = new();
        foreach (string s in new[] { "w1", "w2", "w3" })
        {
            Assert.Equal(EnqueueResult.Queued, q.TryEnqueue(a, s, 10));
        }

        Assert.Equal(EnqueueResult.Queued, q.TryEnqueue(b, "ping", 1));
        Assert.Equal("w1", await q.DequeueAsync(CancellationToken.None));
        q.ReturnToFront(a, "w1", 10);
        Assert.Equal(4, q.Count);
        Assert.Equal(31, q.Bytes);
        var order = new List<string>();
        for (int i = 0; i < 4; i++)
        {
            order.Add(await q.DequeueAsync(CancellationToken.None));
        }

        Assert.Equal(new[] { "w1", "ping", "w2", "w3" }, order);

        // A producer with nothing else queued gets its turn back too.
        q.ReturnToFront(b, "ping", 1);
        Assert.Equal("ping", await q.DequeueAsync(CancellationToken.None));
        Assert.Equal(0, q.Count);
    }

    [Fact]
    public async Task Dequeue_times_out_through_cancellation()
    {
        var q = new FairQueue<string>(3, 2, 100);
        using var cts = new CancellationTokenSource(50);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await q.DequeueAsync(cts.Token));
    }

    [Fact]
    public async Task A_waiting_consumer_runs_on_the_producers_thread()
    {
        // The relay's latency depends on it: the channel loop writes a request to the guest
        // from the client's read loop, with no hop through the thread pool. The waiter is
        // visible a moment before the consumer's await has attached to it; a producer in that
        // moment leaves the consumer on its own thread (rehearsal 28 saw it once), so the test
        // takes the first of a few tries. A queue that always hops to the pool fails them all.
        var seen = new List<(int Producer, int Consumer)>();
        for (int attempt = 0; attempt < 20; attempt++)
        {
            var q = new FairQueue<string>(3, 2, 100);
            int consumerThread = 0;
            var consumer = Task.Run(async () =>
            {
                string item = await q.DequeueAsync(CancellationToken.None).ConfigureAwait(false);
                consumerThread = Environment.CurrentManagedThreadId;
                return item;
            });
            while (!IsWaiting(q))
            {
                await Task.Delay(1);
            }

            // A dedicated thread, not a pool one: a consumer resumed on the pool can never match it.
            int producerThread = 0;
            var result = EnqueueResult.QueueFull;
            var producer = new Thread(() =>
            {
                producerThread = Environment.CurrentManagedThreadId;
                result = q.TryEnqueue("a", "ping", 10);
            });
            producer.Start();
            Assert.True(producer.Join(TimeSpan.FromSeconds(10)));
            Assert.Equal(EnqueueResult.Queued, result);
            Assert.Equal("ping", await consumer.WaitAsync(TimeSpan.FromSeconds(10)));
            Assert.Equal(0, q.Count);
            if (producerThread == consumerThread)
            {
                return;
            }

            seen.Add((producerThread, consumerThread));
        }

        Assert.Fail("the consumer never ran on the producer's thread: " + string.Join(", ", seen));
    }

    [Fact]
    public async Task A_cancelled_wait_loses_no_item()
    {
        var q = new FairQueue<string>(3, 2, 100);
        using var cts = new CancellationTokenSource();
        var waiting = q.DequeueAsync(cts.Token).AsTask();
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Assert.Equal(EnqueueResult.Queued, q.TryEnqueue("a", "ping", 10));
        Assert.Equal(1, q.Count);
        Assert.Equal("ping", await q.DequeueAsync(CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
    }

    private static bool IsWaiting(FairQueue<string> q) =>
        typeof(FairQueue<string>).GetField("_waiter", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!.GetValue(q) is not null;
}
