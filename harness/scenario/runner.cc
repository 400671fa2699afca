#include "harness/scenario/runner.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "harness/scenario/call_steps.h"
#include "harness/scenario/channel_steps.h"
#include "harness/scenario/checks.h"
#include "harness/scenario/clients.h"
#include "harness/scenario/fault_steps.h"
#include "harness/scenario/session_steps.h"

namespace harness::scenario {
namespace {

std::string StepKind(const v1::Step& step) {
  if (!step.name().empty()) return step.name();
  const auto* field = step.GetDescriptor()->FindFieldByNumber(step.kind_case());
  return field == nullptr ? "step" : field->name();
}

// One run of one scenario: starts the parts and the main client, hands each step to the
// section that knows its kind, and gathers what each section saw into the report.
class Run {
 public:
  Run(const v1::Scenario& scenario, const RunOptions& options)
      : scenario_(scenario),
        options_(options),
        deadline_(absl::Now() +
                  absl::Milliseconds(scenario.timeout_ms() > 0 ? scenario.timeout_ms() : 30000)) {
    report_.name = scenario.name();
    report_.description = scenario.description();
    report_.fault = scenario.fault();
  }

  ~Run() {
    // No call retry starts, then the clients go, then the parts they talk to.
    if (calls_ != nullptr) calls_->Stop();
    client_.reset();
    if (channels_ != nullptr) channels_->CloseClients();
    parts_.reset();
  }

  ScenarioReport Go() {
    const absl::Time start = absl::Now();
    if (absl::Status started = Start(); !started.ok()) {
      report_.verdict =
          started.code() == absl::StatusCode::kUnimplemented ? Verdict::kSkipped : Verdict::kFail;
      report_.reason = std::string(started.message());
      return Finish(start);
    }
    for (int i = 0; i < scenario_.steps_size(); ++i) {
      const v1::Step& step = scenario_.steps(i);
      const absl::Time step_start = absl::Now();
      StepReport step_report;
      step_report.name = StepKind(step);
      const Observed observed = RunStep(step, i);
      const std::string failure = observed.ok()
                                      ? ""
                                      : absl::StrCat("step ", i + 1, " (", step_report.name,
                                                     "): ", observed.status().message());
      if (observed.status().code() == absl::StatusCode::kUnimplemented) {
        report_.verdict = Verdict::kSkipped;
        report_.reason = failure;
        step_report.detail = failure;
        report_.steps.push_back(step_report);
        return Finish(start);
      }
      step_report.ok = observed.ok();
      step_report.detail = observed.ok() ? *observed : std::string(observed.status().message());
      step_report.took = absl::Now() - step_start;
      report_.steps.push_back(step_report);
      if (!observed.ok()) {
        Fail(failure);
        break;
      }
    }
    // Whatever the steps said, every call must have ended exactly once.
    if (report_.verdict != Verdict::kFail) {
      if (Observed all = calls_->AwaitCalls(); !all.ok()) Fail(std::string(all.status().message()));
    }
    return Finish(start);
  }

 private:
  absl::Status Start() {
    Target target = options_.target;
    target.seed = options_.seed;
    absl::StatusOr<std::unique_ptr<ScenarioParts>> parts =
        ScenarioParts::Start(scenario_.parts(), target);
    if (!parts.ok()) return parts.status();
    parts_ = *std::move(parts);
    clients_ = std::make_unique<ClientMaker>(scenario_, parts_->client_url(), options_.seed);
    client_ = clients_->Main();
    session_ = std::make_unique<SessionSteps>(*client_, clients_->backoff(),
                                              options_.reconnect_slack, deadline_);
    calls_ = std::make_unique<CallSteps>(*client_, clients_->backoff(), options_.seed, deadline_);
    channels_ = std::make_unique<ChannelSteps>(*client_, *clients_, *parts_, deadline_);
    faults_ = std::make_unique<FaultSteps>(*parts_, *session_, deadline_);
    return absl::OkStatus();
  }

  Observed RunStep(const v1::Step& step, int index) {
    switch (step.kind_case()) {
      case v1::Step::kConnect:
        return session_->Connect(step.connect());
      case v1::Step::kCall:
        return calls_->Call(step.call(), index);
      case v1::Step::kInject:
        return faults_->Inject(step.inject());
      case v1::Step::kRestore:
        return faults_->Restore();
      case v1::Step::kDrain:
        return faults_->Drain();
      case v1::Step::kSwitchBridge:
        return faults_->SwitchBridge();
      case v1::Step::kExpectClose:
        return session_->ExpectClose(step.expect_close());
      case v1::Step::kExpectReconnect:
        return session_->ExpectReconnect(step.expect_reconnect());
      case v1::Step::kAwaitCalls:
        return calls_->AwaitCalls();
      case v1::Step::kExpectBackend:
        return faults_->ExpectBackend(step.expect_backend());
      case v1::Step::kExpectState:
        return session_->ExpectState(step.expect_state());
      case v1::Step::kExpectFrame:
        return session_->ExpectFrame(step.expect_frame());
      case v1::Step::kSubscribe:
        return channels_->Subscribe(step.subscribe());
      case v1::Step::kPublish:
        return channels_->Publish(step.publish());
      case v1::Step::kExpectPublications:
        return channels_->ExpectPublications(step.expect_publications());
      case v1::Step::KIND_NOT_SET:
        break;
    }
    return absl::InvalidArgumentError("a step without a kind");
  }

  void Fail(std::string reason) {
    if (report_.verdict == Verdict::kFail) return;
    report_.verdict = Verdict::kFail;
    report_.reason = std::move(reason);
  }

  ScenarioReport Finish(absl::Time start) {
    if (session_ != nullptr) {
      report_.closes = session_->Closes();
      report_.reconnects = session_->reconnects();
    }
    if (calls_ != nullptr) report_.calls = calls_->reports();
    for (const CallReport& c : report_.calls) {
      if (!c.done) ++report_.calls_lost;
      if (c.outcomes > 1) ++report_.calls_duplicated;
      report_.messages_lost += c.messages_lost;
      report_.messages_duplicated += c.messages_duplicated;
    }
    if (channels_ != nullptr) report_.channels = channels_->reports();
    for (const ChannelReport& c : report_.channels) {
      report_.publications_lost += c.lost;
      report_.publications_duplicated += c.duplicated;
      report_.publications_unrecovered += c.unrecovered;
    }
    report_.took = absl::Now() - start;
    return report_;
  }

  const v1::Scenario& scenario_;
  const RunOptions options_;
  const absl::Time deadline_;
  ScenarioReport report_;

  // Started in this order; ~Run takes the threads down before anything is destroyed.
  std::unique_ptr<ScenarioParts> parts_;
  std::unique_ptr<ClientMaker> clients_;
  std::unique_ptr<bridge::client::WebSocketClient> client_;
  std::unique_ptr<SessionSteps> session_;
  std::unique_ptr<CallSteps> calls_;
  std::unique_ptr<ChannelSteps> channels_;
  std::unique_ptr<FaultSteps> faults_;
};

}  // namespace

ScenarioReport RunScenario(const v1::Scenario& scenario, const RunOptions& options) {
  if (absl::Status valid = ValidateScenario(scenario); !valid.ok()) {
    ScenarioReport report;
    report.name = scenario.name();
    report.verdict = Verdict::kFail;
    report.reason = std::string(valid.message());
    return report;
  }
  Run run(scenario, options);
  return run.Go();
}

}  // namespace harness::scenario
