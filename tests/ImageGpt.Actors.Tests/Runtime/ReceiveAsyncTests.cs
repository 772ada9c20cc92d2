using ImageGpt.Actors.Runtime;
using ImageGpt.Actors.TestKit;

namespace ImageGpt.Actors.Tests.Runtime;

public sealed class ReceiveAsyncTests : RuntimeTestBase
{
    private sealed class AsyncWorker : ReceiveActor
    {
        private int _inside;

        public AsyncWorker(Func<int, Task> work)
        {
            ReceiveAsync<int>(async i =>
            {
                if (Interlocked.Increment(ref _inside) != 1) throw new InvalidOperationException("two messages at once");
                await work(i);
                // After the await: still this actor's turn, same sender.
                Sender.Tell($"done {i}", Self);
                Interlocked.Decrement(ref _inside);
            });
            ReceiveAsync<string>(async s =>
            {
                await Task.Yield();
                throw new FormatException(s);
            });
        }
    }

    [Fact]
    public async Task An_async_handler_keeps_its_sender_across_awaits_and_messages_do_not_interleave()
    {
        var probe = CreateProbe();
        var gates = Enumerable.Range(0, 3).Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToArray();
        var a = Sys.ActorOf(Props.Create(() => new AsyncWorker(i => gates[i].Task)));
        for (int i = 0; i < 3; i++) a.Tell(i, probe);
        await probe.ExpectNoMsgAsync(Quiet);
        // Released out of order: message 1 cannot finish before message 0 has.
        gates[1].SetResult();
        await probe.ExpectNoMsgAsync(Quiet);
        gates[0].SetResult();
        await probe.ExpectMsgAsync("done 0", Wait);
        await probe.ExpectMsgAsync("done 1", Wait);
        Assert.Equal(a, probe.LastSender);
        gates[2].SetResult();
        await probe.ExpectMsgAsync("done 2", Wait);
    }

    [Fact]
    public async Task A_faulted_async_handler_is_a_failure_of_the_actor()
    {
        var failures = TestProbe.ForFailures(Sys);
        var a = Sys.ActorOf(Props.Create(() => new AsyncWorker(_ => Task.CompletedTask)));
        a.Tell("bad input");
        var e = await failures.ExpectFailureAsync<FormatException>(a, Wait);
        Assert.Equal("bad input", e.Message);
        // Restarted by the default strategy, and serving again.
        Assert.Equal("done 7", await a.Ask<string>(7, Wait));
    }
}
